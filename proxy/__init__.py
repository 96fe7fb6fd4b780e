"""Customs: the running proxy service."""
