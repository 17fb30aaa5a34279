"""The electrode detector's input/output contract (DESIGN.md), in one place for the model, the data
reader and the evaluators; importing it needs no PyTorch, so ONNX evaluation runs without it."""

SIZE = 256
NUM_CLASSES = 5
DET_STRIDE = 4
VIS_MEAN = (0.25, 0.25, 0.25)
VIS_STD = (0.15, 0.15, 0.15)
XRAY_MEAN = (0.6,)
XRAY_STD = (0.15,)
CLASSES = ("scratch", "dark_spot", "foreign_object", "inclusion", "crack")
