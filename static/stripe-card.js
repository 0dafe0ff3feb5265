// Stillwater: the card form with Stripe.js (loaded from js.stripe.com on this page only; CSP allows it
// nowhere else). The card details go from Stripe's field to Stripe; we receive only the SetupIntent id.
(function () {
  "use strict";

  function start() {
    var form = document.getElementById("stripe-card-form");
    if (!form) return;
    var problem = document.getElementById("card-problem");
    if (typeof Stripe !== "function") {
      problem.textContent = "The card form could not load. Check your connection and reload the page.";
      return;
    }
    var stripe = Stripe(form.getAttribute("data-stripe-key"));
    var card = stripe.elements().create("card", { hidePostalCode: true });
    card.mount("#card-element");
    card.on("change", function (event) {
      problem.textContent = event.error ? event.error.message : "";
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      problem.textContent = "";
      stripe.confirmCardSetup(form.getAttribute("data-client-secret"), {
        payment_method: { card: card }
      }).then(function (result) {
        if (result.error) {
          problem.textContent = result.error.message;
          button.disabled = false;
          return;
        }
        form.querySelector("input[name=setup_intent]").value = result.setupIntent.id;
        form.submit();
      });
    });
  }

  // A payment the client's bank asks them to confirm (3-D Secure): Stripe.js runs the bank's check.
  function startConfirmation() {
    var form = document.getElementById("stripe-confirm-form");
    if (!form) return;
    var problem = document.getElementById("card-problem");
    if (typeof Stripe !== "function") {
      problem.textContent = "The bank's check could not load. Check your connection and reload the page.";
      return;
    }
    var stripe = Stripe(form.getAttribute("data-stripe-key"));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      problem.textContent = "";
      stripe.confirmCardPayment(form.getAttribute("data-client-secret"), {
        payment_method: form.getAttribute("data-payment-method")
      }).then(function (result) {
        if (result.error) {
          problem.textContent = result.error.message;
          button.disabled = false;
          return;
        }
        form.submit();
      });
    });
  }

  function startAll() { start(); startConfirmation(); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", startAll);
  else startAll();
})();
