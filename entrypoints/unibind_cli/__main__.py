from unibind_cli.main import main

main()
