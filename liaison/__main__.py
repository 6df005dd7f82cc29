from liaison.cli import main

raise SystemExit(main())
