"""The application: the jobs a user runs, built from the core, the zoo and the meta-model.

``adapt`` (one task: pick in one shot, fine-tune within the budget, record), ``stream`` (tasks one
after another), ``collect`` (experience for the meta-model), ``search`` and ``bohb`` (architecture
and hyperparameter search), ``predict``, ``probe``, ``workflow`` (what adapt/train share) and the
executors that run jobs on local processes or a Ray cluster. The CLI and the benchmarks sit above.
"""

# The jobs look members up by name: registering the zoo in the model registry is the application's
# part (the core registry knows nothing above it).
import nasoa.zoo  # noqa: E402,F401
