"""The final model: the best configuration retrained on all training data (:mod:`.fit`),
the baselines tested beside it (:mod:`.baselines`) and how the comparison reads
(:mod:`.uplift`). Logging and registering it is tracking's (``tracking.final_fit``,
``tracking.publish``). Importing the package imports nothing heavy: tracking reads
:mod:`.uplift`, which is pure.
"""
