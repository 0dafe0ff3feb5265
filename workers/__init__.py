"""Background jobs (arq). Each job is a thin call into ``app.services``; jobs receive ids only."""
