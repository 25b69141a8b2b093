"""A trained run on images: the one prediction path (predict, evaluate, cell validation and export call it),
its views, size evidence, karyotype assignment, super-resolution and the outputs."""
