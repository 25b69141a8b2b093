"""Reading chromosome image sets, IAM, splits, TFRecords and the tf.data pipeline (never imports models)."""
