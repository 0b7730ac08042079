"""The control plane behind ``Client``: one service per aggregate of the API (media, templates,
task flows, tasks, events) and the request validation they share."""
