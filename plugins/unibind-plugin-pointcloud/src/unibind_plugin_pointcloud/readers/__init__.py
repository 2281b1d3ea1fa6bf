"""One module per file format; each returns a :class:`~unibind_plugin_pointcloud.cloud.PointCloud`."""
