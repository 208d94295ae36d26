"""nnstudio's two views of a training run and the core they share, three wings with arrows one way:

    run/     the run core: configuration, training session, factory (no Textual, no Rich)
    cli/     the headless commands (`nnstudio train`, `eval`, ...), drawn with Rich
    studio/  the Textual app

`cli` and `studio` both import `run`, never each other; `main` puts their commands in one
program, and `render` draws what both show (digits as characters, sizes).
"""
