"""The electrode detector's input contract (size, classes, normalisation) without PyTorch.

Kept apart from `electrode_model.py` so that the dataset reader (`electrode_data.py`) and the evaluation
environment (`.venv-eval`: numpy and Pillow only) can use it without importing torch.
"""

SIZE = 256
NUM_CLASSES = 5
DET_STRIDE = 4
VIS_MEAN = (0.25, 0.25, 0.25)
VIS_STD = (0.15, 0.15, 0.15)
XRAY_MEAN = (0.6,)
XRAY_STD = (0.15,)
