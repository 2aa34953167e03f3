"""`python -m bench` (also `./run bench`): run the side-by-side benchmarks."""

from bench._cli import main

raise SystemExit(main())
