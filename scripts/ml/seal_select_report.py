"""What a candidate seal checkpoint does on the selection sets (choosing data, never test data), as used to
choose 2.1.0 over 2.0.0 and 2.2.0 over 2.1.0: accuracy at the checkpoint's threshold, and the share of wrong-reference pairs it
calls NG: every OK pair of work/seal/select against each other fixed recipe's reference (look-alike
recipes), and 600 OK pairs of pool-select against the most alike of 8 other references.

    .venv/bin/python scripts/ml/seal_select_report.py work/seal/full.pt
"""
import sys
import numpy as np, torch
sys.path.insert(0, str(__import__('pathlib').Path(__file__).parent))
import seal_pool
from seal_data import load_set
from seal_model import load_checkpoint
from seal_data import other_reference, thumbnails
from seal_train import to_input
torch.set_num_threads(2)
ck = sys.argv[1]
model, c = load_checkpoint(ck); model.eval()
t = c.get('training', {}).get('threshold', 0.5)
def p_ng(img, ref):
    out = []
    with torch.no_grad():
        for s in range(0, len(img), 128):
            out.append(torch.softmax(model.logits(to_input(img[s:s+128]), to_input(ref[s:s+128])), 1)[:, 1].numpy())
    return np.concatenate(out)
d = load_set('work/seal/select')
ok = np.flatnonzero(d.labels == 0)
imgs, refs = [], []
for i in ok:
    for r in range(len(d.references)):
        if r != d.ref_index[i]:
            imgs.append(d.images[i]); refs.append(d.references[r])
pw = p_ng(np.stack(imgs), np.stack(refs))
acc = ((p_ng(d.images, d.references[d.ref_index]) >= t) == (d.labels == 1)).mean()
print(f"{ck}: threshold {t}; fixed select acc {acc:.4f}; look-alike wrong-ref NG {np.mean(pw >= t):.4f} (n={len(pw)})")
pool = seal_pool.load('work/seal/pool-select.npz')
th = thumbnails(pool.references)
rng = np.random.default_rng(0)
okp = np.flatnonzero(pool.labels == 0)[:600]
oth = [other_reference(pool, int(pool.ref_index[i]), rng, 8, th) for i in okp]
pw2 = p_ng(pool.images[okp], pool.references[oth])
acc2 = ((p_ng(pool.images, pool.references[pool.ref_index]) >= t) == (pool.labels == 1)).mean()
print(f"{ck}: distribution select acc {acc2:.4f}; most-alike-of-8 wrong-ref NG {np.mean(pw2 >= t):.4f} (n={len(pw2)})")
