"""docs/reproductions.md: each claim of the anchor papers, the command that tests it here, the table over seeds
and the verdict, generated from run folders by `python -m bench.reproductions`.

claims.py (arms and claims), evidence.py (runs found by config, paired seed statistics), verdicts.py (the rules),
gaussian.py (the Gaussian laws, simulated), page.py (the markdown), __main__.py (run what is missing, write).
"""
