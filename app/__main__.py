"""Lets `python -m app` start Cantus as the `cantus` command does."""

from app.launcher import main

raise SystemExit(main())
