"""``sweeps plan``: what a sweep will run and how long it will take (:mod:`.plan`), from
model sizes and epoch times measured on the real data (:mod:`.sizing`), before any trial.
"""
