"""One clip through a JEPA | MAE pair: the model window, EF, out-of-distribution score, degradation
sweeps, and the full analysis report that `python app.py analyze` and the app's views share.

    pair = load_pair()                      # the shipped jepa-small | mae-small, with probes
    result = analyze(clip, pair, out_dir)   # report.json, <role>.rollout.npy, figures, report.html
"""
