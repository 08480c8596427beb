"""Training the classifier from image-level labels (each slice: lesion yes/no)."""
