"""Local infrastructure for omnicx: Maven-resolved Kafka and Spark jars, service launchers.

Nothing here imports other omnicx packages; callers pass typed config objects in.
"""
