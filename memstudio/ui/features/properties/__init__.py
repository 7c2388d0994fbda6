"""The property strip: live scores per assessor and the photo-edit sliders."""
