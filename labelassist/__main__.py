from labelassist.cli import main

raise SystemExit(main())
