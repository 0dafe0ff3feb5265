"""Use cases. Each public function is one transaction; web handlers and jobs call these."""
