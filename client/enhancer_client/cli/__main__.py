from enhancer_client.cli.app import main

raise SystemExit(main())
