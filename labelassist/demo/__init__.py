"""Demo data: volumes and images with synthetic lesions of known masks (from the MNI152 template that
nilearn ships; nothing is downloaded), and overview pictures of a run."""
