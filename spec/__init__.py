"""The fastloss conformance suite: each documented formula, shape rule and edge case as a property."""
