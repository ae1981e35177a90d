"""Text prompts on video: every instance of a concept ("person", "red car") found and tracked (SAM 3).

``transformers``' SAM 3 classes do the work: ``Sam3Model`` finds the instances
of a text prompt on a keyframe, ``Sam3TrackerVideoModel`` tracks each one
(through the track engine's bounded streaming :class:`~segmatte.models.track.tracker.Tracker`).
What lives here: turning concept objects into instance layers with stable ids
(:mod:`.concepts`), detection with threshold / NMS / a cap (:mod:`.detector`),
matching instances found again on later keyframes by mask IoU
(:mod:`.matching`), loading both halves from one checkpoint
(:mod:`.loader`), the engine (:mod:`.engine_text`), the plain transformers
loop it is measured against (:mod:`.reference`) and tiny random checkpoints
(:mod:`.tiny`).
"""
