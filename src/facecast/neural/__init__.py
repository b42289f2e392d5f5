"""The neural engine's training side: facesets, the comb model, losses, training, checkpoints.

Stages as a user sees them (DeepFaceLab's extract / train / merge):

1. `facecast.neural.faceset`: aligned face crops, landmarks and masks from plates and photos.
2. `facecast.neural.train`: a shared-encoder, per-identity-decoder model trained on them.
3. `facecast.engines.neural`: the trained model swapping faces inside `facecast swap`.
"""
