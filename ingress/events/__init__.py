"""Progress events (Server-Sent Events) of image and video jobs, read from the database."""
