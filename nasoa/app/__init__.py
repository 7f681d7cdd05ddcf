"""The application: the jobs a user runs, built from the core, the zoo and the meta-model.

* ``adapt``: one task, picked in one shot, fine-tuned within the budget, recorded; its parts:
  ``choose`` (what each strategy picks), ``setup_budget`` (the budget check and the set-up's cost
  model), ``experience`` (the store, seeded with the shipped experience), ``record`` (what a finished
  run leaves: store record, figure, manifest, the measured post-training time), ``probe``
  (successive halving over the top candidates on unfamiliar tasks), ``transfer`` (members'
  penultimate features for LogME and k-NN).
* ``stream``: tasks one after another; ``collect`` (with ``collect_plan``, ``collect_jobs``,
  ``refresh``): experience for the meta-model.
* ``search`` (the ET-NAS architecture search) and ``bohb`` (the BOHB baseline); ``predict``;
  ``workflow`` (what adapt and train share); ``executor``/``executor_ray``: jobs on local
  processes or a Ray cluster.

The CLI and the benchmarks sit above.
"""

# The jobs look members up by name: registering the zoo in the model registry is the application's
# part (the core registry knows nothing above it).
import nasoa.zoo  # noqa: E402,F401
