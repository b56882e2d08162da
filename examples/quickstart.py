# %% [markdown]
# # fasctrack quickstart
#
# Read a surface-EMG recording, find its fasciculation potentials, look at
# them, hand them to MNE-Python, and classify a subject's history across
# sessions. The same code is the notebook
# `examples/quickstart.ipynb`, this script (`python examples/quickstart.py`)
# and the README's "Python in 5 minutes".
#
# fasctrack is research decision support: it never makes a diagnosis.

# %%
import fasctrack
import matplotlib.pyplot as plt

rec = fasctrack.read(fasctrack.example_path())  # bundled EDF+ with BIDS-EMG sidecars, samples in uV
print(rec)
print(rec.channels[0])

# %% [markdown]
# ## Detect
#
# One call conditions the signal (band-pass, mains notches), finds every
# discharge, groups discharges into motor units, masks voluntary activity and
# artefacts, and summarises the rate per minute of clean rest with a 95%
# confidence interval. Events, units and masks are pandas tables.

# %%
result = fasctrack.detect(rec)
print(result)
print(result.events[["time_s", "unit", "channel", "amplitude_uv", "duration_ms", "phases"]].head())

# %%
print(result.units[["unit", "count", "rate_per_min", "peak_channel", "amplitude_uv", "idi_median_ms"]])
print(result.masks[["start_s", "stop_s", "reason"]])

# %% [markdown]
# ## Plot
#
# Each plot returns a matplotlib Figure and accepts `ax=` to draw into your own
# layout. Raw and filtered traces with the detected discharges (triangles, in
# each unit's colour) and the masked periods shaded:

# %%
fig = fasctrack.plot.traces(rec, result, tmin=20, tmax=25)

# %% [markdown]
# Each unit's mean waveform on the 2 x 4 electrode grid (the sidecar marks
# `EMG e8` bad, so its cell stays empty). The discharge propagates along the
# fibres, from the innervation zone under column 2 towards both tendons:

# %%
fig = fasctrack.plot.unit_waveforms(result)

# %% [markdown]
# When each unit fired, and its instantaneous rate (intervals that span a
# masked period are left out):

# %%
fig = fasctrack.plot.raster(result)

# %%
fig = fasctrack.plot.distributions(result)

# %% [markdown]
# ## MNE-Python
#
# `fasctrack.from_mne(raw)` reads an MNE Raw (EMG channels, bad channels and
# annotations carried over); the other way, the events and masks become MNE
# annotations and an events array, and show up in `raw.plot()`.

# %%
raw = rec.to_mne()
raw.set_annotations(raw.annotations + result.to_mne_annotations(raw))
events = result.to_mne_events()  # (n, 3): sample, 0, unit + 1
print(events[:3], result.mne_event_id)
fig = raw.plot(start=20, duration=5, scalings=dict(emg=100e-6), theme="light", show=False, verbose="error")

# %% [markdown]
# ## Across sessions
#
# `fasctrack.classify` takes one subject's sessions (a manifest: recordings,
# dates, which channel lies over which muscle), detects each and labels the
# history `none`, `benign`, `warning` or `indeterminate`, with its reasons. In
# the bundled (simulated) history fasciculations persist in one muscle and
# spread to two more.

# %%
report = fasctrack.classify(fasctrack.example_path("history"))
print(report)
print(report.decision)
print(report.muscles[["session", "muscle", "state", "n_events", "rate_per_min"]])

# %%
fig = fasctrack.plot.rate_timeline(report)

# %%
plt.show()  # a script opens the figures here; the notebook has shown them already
