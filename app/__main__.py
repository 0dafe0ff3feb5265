"""``python -m app <command>``: run, worker, migrate, demo, create-clinician."""

from app.cli import main

raise SystemExit(main())
