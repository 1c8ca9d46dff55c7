"""``python -m tinygrad_bp``: the command line (see ``tinygrad_bp.cli``)."""

from tinygrad_bp.cli import main

raise SystemExit(main())
