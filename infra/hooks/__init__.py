"""azd hooks (azure.yaml): run from the project root with the azd environment's values in os.environ."""
