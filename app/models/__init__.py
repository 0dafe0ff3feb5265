"""The Piccolo app: tables and migrations. No business rules live here."""
