"""Allow ``python -m rnn_tutor``."""

from rnn_tutor.cli import main

raise SystemExit(main())
