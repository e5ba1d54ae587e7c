from omnicx.cli import main

main()
