"""The person engine: automatic human matting with recurrent temporal state.

Our own torch implementation of the Robust Video Matting architecture
(Lin et al., "Robust High-Resolution Video Matting with Temporal Guidance",
WACV 2022), loading the published weights. The weights are GPL-3.0: the
engine is opt-in and says so.

- :mod:`.configuration_rvm` — the hyper-parameters (``RVMConfig``)
- :mod:`.modeling_rvm` — the network (``RVMModel``) and its recurrent state
- :mod:`.convert_tfjs` — loader for the TF.js graph-model export
- :mod:`.convert_torch` — loader for the PyTorch checkpoint ``rvm_mobilenetv3.pth``
- :mod:`.weights` — where weights are looked for, and the message when absent
- :mod:`.engine_person` — the ``"person"`` engine
"""
