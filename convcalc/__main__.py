from convcalc.cli import main

main()
