"""Human labels for a run: a local labelling page (`unigap label RUN_DIR`) and CSV export/import.

Labels are stored in the run store as judge ``human:<name>``, so analysis treats them like any
other external judge. Modules: sampling (which candidates, in which order), session (the labelling
state shared by the page's requests), app (the Starlette app and the uvicorn server), csvio (CSV).
Nothing is imported here so that `import unigap.label` stays cheap.
"""

HUMAN_PREFIX = "human:"
HUMAN_RAW = "human label"  # Judgment.raw of every human label (page and CSV import)
