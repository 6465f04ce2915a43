//! Document trees -> typed Kubernetes objects. (stub: to be implemented)
