"""What the user asks for, in musical terms: takes and returns tracks and sketches, never tensors."""
