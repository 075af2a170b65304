"""Video: a clip's frames stylized without flicker (:mod:`.frames`), optical flow and the warping
error (:mod:`.flow`), and clips in and out through PyAV (:mod:`.clip`). Needs ``brushwork[video]``."""
