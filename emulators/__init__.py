"""Local emulators of the external services cmsync talks to."""
