"""The frozen app's entry point: what the `cantus` console script runs (app.launcher.main)."""

from app.launcher import main

if __name__ == "__main__":
    raise SystemExit(main())
