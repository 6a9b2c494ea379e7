from agentlist.cli import main

raise SystemExit(main())
