from qorch.cli import main

main()
