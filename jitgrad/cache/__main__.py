"""`python -m jitgrad.cache {info,clear}` (a package's __main__, so the module is not run twice)."""
from . import main

raise SystemExit(main())
