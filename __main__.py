from qorch.cli import main

# Worker processes import the parent's main module by path: it must not start qorch again.
if __name__ == "__main__":
    main()
