"""The record, the one value every part of Delta exchanges, and its byte codec.

Imports only the standard library.
"""
