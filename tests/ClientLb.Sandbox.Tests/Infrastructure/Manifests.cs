namespace ClientLb.Sandbox.Tests.Infrastructure;

public static class Manifests
{
    /// <summary>The Deployment and Service of the seed article (deployment-service-clusterip.yaml), verbatim.</summary>
    public const string Seed = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: my-app
        spec:
          replicas: 2
          selector:
            matchLabels:
              app: my-app
          template:
            metadata:
              labels:
                app: my-app
            spec:
              containers:
                - name: my-app
                  image: nginx:1.25-alpine   # Using Nginx as an example
                  ports:
                    - containerPort: 80

        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: my-service
        spec:
          selector:
            app: my-app
          ports:
            - port: 80          # Port exposed by the Service (accessible inside the cluster)
              targetPort: 80    # Port on the Pod container
          type: ClusterIP       # Default type is ClusterIP
        """;
}
