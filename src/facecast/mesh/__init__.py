"""Face-mesh geometry shared by the character builder and the mesh engine.

`triangles` gives the mesh's fixed triangle list, `warp` the piecewise-affine warp between two
landmark sets on that topology, `frontal` the pose-free layout used as texture space.
"""
