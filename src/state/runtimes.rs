//! What the container runtimes say of a container: name, image, image digest and the
//! Kubernetes pod, asked once per container through each runtime's API on its socket —
//! Docker's and Podman's (the Docker-compatible API, with bollard) and containerd's (gRPC,
//! with containerd-client; Kubernetes through CRI keeps its containers there, in the
//! `k8s.io` namespace).
//!
//! The questions are asked on a thread of their own, so the packet path never waits: it
//! queues a container id ([`Lookups::ask`], never blocking; a full queue is counted) and
//! collects the answers when they are there ([`Lookups::answers`]). The cgroup watcher
//! ([`super::cgroup_watch`]) asks too, as soon as a container's cgroup appears, so the
//! answer is usually in before the container's first packet. A runtime whose socket does
//! not exist is skipped quietly; one that refuses is named once on stderr.
//!
//! One lookup thread and one watcher serve every decoding thread (`--threads`): each has
//! its own [`Lookups`] end, every answer reaches all of them, and a container is asked
//! about once whichever thread sees it first.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use bollard::{ClientVersion, Docker};
use containerd_client::services::v1::containers_client::ContainersClient;
use containerd_client::services::v1::images_client::ImagesClient;
use containerd_client::services::v1::namespaces_client::NamespacesClient;
use containerd_client::services::v1::{
    GetContainerRequest, GetImageRequest, ListNamespacesRequest,
};
use containerd_client::tonic::transport::Channel;
use containerd_client::tonic::{self, Request};

use super::cgroup_path::Runtime;

/// Container ids waiting for the lookup thread at most; more are counted and dropped.
const QUEUE: usize = 1024;
/// Answers the lookup thread remembers (a container asked about twice is answered from
/// memory); it forgets them all when full.
const REMEMBERED: usize = 65_536;
/// How long one question to one runtime may take.
const TIMEOUT: Duration = Duration::from_secs(2);
/// The Docker API version asked for: Docker 20.10's, which Podman 4 serves too.
const DOCKER_API: ClientVersion = ClientVersion {
    major_version: 1,
    minor_version: 41,
};

/// Labels Kubernetes puts on the containers of a pod (Docker, containerd and CRI-O alike).
const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";
const POD_UID_LABEL: &str = "io.kubernetes.pod.uid";
const CONTAINER_NAME_LABEL: &str = "io.kubernetes.container.name";

/// The runtimes' API sockets (`--docker-socket`, `--podman-socket`, `--containerd-socket`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sockets {
    /// Docker's API.
    pub docker: PathBuf,
    /// Podman's Docker-compatible API (`podman system service`).
    pub podman: PathBuf,
    /// containerd's gRPC API.
    pub containerd: PathBuf,
}

/// What a runtime said of one container ("" for what it did not say).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Description {
    /// The container's name (a Kubernetes container's name within its pod).
    pub name: String,
    /// Its image, as a name and tag.
    pub image: String,
    /// The image's digest (`sha256:…`), or its id when the runtime knows no digest.
    pub image_digest: String,
    /// The Kubernetes pod's name.
    pub pod_name: String,
    /// The Kubernetes pod's namespace.
    pub pod_namespace: String,
    /// The Kubernetes pod's UID.
    pub pod_uid: String,
}

/// One answer of the lookup thread.
#[derive(Debug, Clone)]
pub struct Answer {
    /// The container asked about.
    pub id: String,
    /// What a runtime said; `None` when no runtime knew it.
    pub description: Option<Description>,
    /// How long finding it took, from the question to the answer.
    pub latency: Duration,
    /// The end that asked ([`Lookups::ask`]); `None` for the cgroup watcher.
    asker: Option<usize>,
}

/// A question to the lookup thread: a container id, the runtime its cgroup names, when it
/// was asked, and by which end (`None`: the cgroup watcher).
type Question = (String, Runtime, Instant, Option<usize>);

/// A decoding thread's end of the lookup thread.
pub struct Lookups {
    /// Its number among the ends.
    index: usize,
    questions: mpsc::SyncSender<Question>,
    answers: mpsc::Receiver<Answer>,
    /// Questions dropped because the queue was full.
    pub dropped: u64,
}

impl Lookups {
    /// Starts the lookup thread, asking the runtimes listening on `sockets`, and the
    /// watcher of new containers' cgroups below `cgroup_root`; returns `ends` ends of it
    /// (one per decoding thread), each of which receives every answer.
    pub fn start(
        sockets: Sockets,
        cgroup_root: Option<PathBuf>,
        ends: usize,
    ) -> std::io::Result<Vec<Lookups>> {
        let (questions, asked) = mpsc::sync_channel(QUEUE);
        let (answered, answers): (Vec<_>, Vec<_>) =
            (0..ends).map(|_| mpsc::sync_channel(QUEUE)).unzip();
        std::thread::Builder::new()
            .name("netcore-runtimes".into())
            .spawn(move || serve(sockets, asked, answered))?;
        if let Some(root) = cgroup_root {
            let notices = questions.clone();
            super::cgroup_watch::start(root, move |id, runtime| {
                notices.send((id, runtime, Instant::now(), None)).is_ok()
            })?;
        }
        Ok(answers
            .into_iter()
            .enumerate()
            .map(|(index, answers)| Lookups {
                index,
                questions: questions.clone(),
                answers,
                dropped: 0,
            })
            .collect())
    }

    /// Asks about container `id` of `runtime`, without waiting.
    pub fn ask(&mut self, id: &str, runtime: Runtime) {
        if self
            .questions
            .try_send((id.to_owned(), runtime, Instant::now(), Some(self.index)))
            .is_err()
        {
            self.dropped += 1;
        }
    }

    /// The answers that have arrived.
    pub fn answers(&self) -> mpsc::TryIter<'_, Answer> {
        self.answers.try_iter()
    }

    /// Whether this end counts `answer` in the run's summary: the answers to its own
    /// questions, and the first end the watcher's, so that each is counted once.
    pub fn counts(&self, answer: &Answer) -> bool {
        answer.asker.unwrap_or(0) == self.index
    }
}

/// The lookup thread: answers questions one after the other, each to every end, until
/// all ends have hung up.
fn serve(
    sockets: Sockets,
    asked: mpsc::Receiver<Question>,
    mut answered: Vec<mpsc::SyncSender<Answer>>,
) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("netcore: container runtimes will not be asked: {e}");
            return;
        }
    };
    let mut clients = Clients::new(sockets);
    let mut remembered: HashMap<String, Option<Description>> = HashMap::new();
    while let Ok((id, engine, asked_at, asker)) = asked.recv() {
        let description = match remembered.get(&id) {
            Some(known) => known.clone(),
            None => {
                let found = runtime.block_on(clients.describe(&id, engine));
                if remembered.len() >= REMEMBERED {
                    remembered.clear();
                }
                remembered.insert(id.clone(), found.clone());
                found
            }
        };
        let answer = Answer {
            id,
            description,
            latency: asked_at.elapsed(),
            asker,
        };
        answered.retain(|end| end.send(answer.clone()).is_ok());
        if answered.is_empty() {
            return;
        }
    }
}

/// One runtime's API: where it listens, the client once connected, whether its refusal
/// was reported.
struct Endpoint<C> {
    name: &'static str,
    socket: PathBuf,
    client: Option<C>,
    reported: bool,
}

impl<C> Endpoint<C> {
    fn new(name: &'static str, socket: PathBuf) -> Self {
        Endpoint {
            name,
            socket,
            client: None,
            reported: false,
        }
    }

    /// Names the runtime's failure on stderr, the first time only.
    fn report(&mut self, problem: impl std::fmt::Display) {
        if !self.reported {
            self.reported = true;
            eprintln!(
                "netcore: warning: {} at {} did not answer: {problem}; its containers \
                 carry their ids only",
                self.name,
                self.socket.display()
            );
        }
    }
}

/// The runtimes' clients.
struct Clients {
    docker: Endpoint<Docker>,
    podman: Endpoint<Docker>,
    containerd: Endpoint<Channel>,
}

impl Clients {
    fn new(sockets: Sockets) -> Self {
        Clients {
            docker: Endpoint::new("Docker", sockets.docker),
            podman: Endpoint::new("Podman", sockets.podman),
            containerd: Endpoint::new("containerd", sockets.containerd),
        }
    }

    /// What the runtime of container `id` says of it: the runtime its cgroup names first,
    /// then the others.
    async fn describe(&mut self, id: &str, runtime: Runtime) -> Option<Description> {
        let order: &[Runtime] = match runtime {
            Runtime::Docker => &[Runtime::Docker, Runtime::Containerd],
            Runtime::Podman => &[Runtime::Podman, Runtime::Docker],
            Runtime::Containerd => &[Runtime::Containerd],
            // CRI-O's own API is not asked (see docs/containers.md): its cgroup names the
            // container and the pod UID.
            Runtime::Crio => &[],
            Runtime::Unknown => &[Runtime::Docker, Runtime::Podman, Runtime::Containerd],
        };
        for runtime in order {
            let found = match runtime {
                Runtime::Docker => docker_describe(&mut self.docker, id).await,
                Runtime::Podman => docker_describe(&mut self.podman, id).await,
                Runtime::Containerd => containerd_describe(&mut self.containerd, id).await,
                Runtime::Crio | Runtime::Unknown => None,
            };
            if found.is_some() {
                return found;
            }
        }
        None
    }
}

/// Container `id` through the Docker API at `endpoint` (Docker or Podman).
async fn docker_describe(endpoint: &mut Endpoint<Docker>, id: &str) -> Option<Description> {
    if endpoint.client.is_none() {
        if !endpoint.socket.exists() {
            return None; // Not installed or not running: nothing to say.
        }
        let socket = endpoint.socket.to_string_lossy().into_owned();
        match Docker::connect_with_unix(&socket, TIMEOUT.as_secs(), &DOCKER_API) {
            Ok(client) => endpoint.client = Some(client),
            Err(e) => {
                endpoint.report(e);
                return None;
            }
        }
    }
    let client = endpoint.client.as_ref()?;
    let inspected = match client.inspect_container(id, None).await {
        Ok(inspected) => inspected,
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => return None,
        Err(e) => {
            endpoint.report(e);
            return None;
        }
    };
    let config = inspected.config.unwrap_or_default();
    let labels = config.labels.unwrap_or_default();
    let image_id = inspected.image.unwrap_or_default();
    let mut description = Description {
        name: inspected
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image: config.image.unwrap_or_default(),
        image_digest: image_id.clone(),
        ..Description::default()
    };
    // The image's own record names it with its tag and its registry digest, when it has one.
    if let Ok(image) = client.inspect_image(&image_id).await {
        if let Some(tag) = image.repo_tags.and_then(|tags| tags.into_iter().next()) {
            description.image = tag;
        }
        if let Some(digest) = image
            .repo_digests
            .and_then(|digests| digests.into_iter().next())
            .and_then(|d| Some(d.split_once('@')?.1.to_owned()))
        {
            description.image_digest = digest;
        }
    }
    with_pod_labels(description, &labels)
}

/// Container `id` through containerd's API at `endpoint`, in whichever of its
/// namespaces holds it.
async fn containerd_describe(endpoint: &mut Endpoint<Channel>, id: &str) -> Option<Description> {
    if endpoint.client.is_none() {
        if !endpoint.socket.exists() {
            return None;
        }
        match tokio::time::timeout(TIMEOUT, containerd_client::connect(&endpoint.socket)).await {
            Ok(Ok(channel)) => endpoint.client = Some(channel),
            Ok(Err(e)) => {
                endpoint.report(e);
                return None;
            }
            Err(_) => {
                endpoint.report("no answer within 2 s");
                return None;
            }
        }
    }
    let channel = endpoint.client.clone()?;
    let namespaces = NamespacesClient::new(channel.clone())
        .list(ListNamespacesRequest::default())
        .await;
    let namespaces = match namespaces {
        Ok(list) => list.into_inner().namespaces,
        Err(e) => {
            endpoint.report(e.message());
            return None;
        }
    };
    for namespace in namespaces {
        let get = GetContainerRequest { id: id.to_owned() };
        let Some(request) = in_namespace(get, &namespace.name) else {
            continue;
        };
        let Ok(found) = ContainersClient::new(channel.clone()).get(request).await else {
            continue; // Not in this namespace.
        };
        let Some(container) = found.into_inner().container else {
            continue;
        };
        let mut description = Description {
            name: String::new(),
            image_digest: container.image.clone(),
            image: container.image,
            ..Description::default()
        };
        let get = GetImageRequest {
            name: description.image.clone(),
        };
        if let Some(request) = in_namespace(get, &namespace.name)
            && let Ok(image) = ImagesClient::new(channel.clone()).get(request).await
            && let Some(target) = image.into_inner().image.and_then(|i| i.target)
        {
            description.image_digest = target.digest;
        }
        return with_pod_labels(description, &container.labels);
    }
    None
}

/// `message` as a request to containerd's namespace `namespace`; `None` for a namespace
/// name that cannot be a gRPC header.
fn in_namespace<T>(message: T, namespace: &str) -> Option<Request<T>> {
    let value = tonic::metadata::MetadataValue::try_from(namespace).ok()?;
    let mut request = Request::new(message);
    request.metadata_mut().insert("containerd-namespace", value);
    Some(request)
}

/// `description` completed from Kubernetes' labels: the pod, and the container's name in
/// it (containerd's containers have no other name).
fn with_pod_labels(
    mut description: Description,
    labels: &HashMap<String, String>,
) -> Option<Description> {
    let label = |key: &str| labels.get(key).cloned().unwrap_or_default();
    description.pod_name = label(POD_NAME_LABEL);
    description.pod_namespace = label(POD_NAMESPACE_LABEL);
    description.pod_uid = label(POD_UID_LABEL);
    if let Some(name) = labels.get(CONTAINER_NAME_LABEL) {
        description.name = name.clone();
    }
    Some(description)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubernetes_labels_name_the_pod_and_the_container() {
        let labels: HashMap<String, String> = [
            (POD_NAME_LABEL, "web-7d4b9"),
            (POD_NAMESPACE_LABEL, "shop"),
            (POD_UID_LABEL, "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b"),
            (CONTAINER_NAME_LABEL, "nginx"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let plain = Description {
            name: "k8s_nginx_web".into(),
            image: "nginx:1.27".into(),
            ..Description::default()
        };
        let described = with_pod_labels(plain.clone(), &labels).unwrap();
        assert_eq!(
            (
                described.name.as_str(),
                described.pod_name.as_str(),
                described.pod_namespace.as_str(),
                described.pod_uid.as_str(),
                described.image.as_str()
            ),
            (
                "nginx",
                "web-7d4b9",
                "shop",
                "2a0e5a4b-8d7c-4e1f-9b3a-6c5d4e3f2a1b",
                "nginx:1.27"
            )
        );
        assert_eq!(
            with_pod_labels(plain.clone(), &HashMap::new()),
            Some(plain),
            "no labels: the runtime's name stays"
        );
    }

    #[test]
    fn absent_runtimes_are_skipped_and_answered_with_nothing() {
        let missing = std::env::temp_dir().join("netcore-no-such-runtime.sock");
        let sockets = Sockets {
            docker: missing.clone(),
            podman: missing.clone(),
            containerd: missing,
        };
        let mut ends = Lookups::start(sockets, None, 2).unwrap();
        ends[1].ask(&"ab".repeat(32), Runtime::Unknown);
        // Every end gets the answer; only the one that asked counts it.
        for end in &ends {
            let deadline = Instant::now() + Duration::from_secs(5);
            let answer = loop {
                if let Some(answer) = end.answers().next() {
                    break answer;
                }
                assert!(Instant::now() < deadline, "the lookup thread answers");
                std::thread::sleep(Duration::from_millis(5));
            };
            assert_eq!(answer.id, "ab".repeat(32));
            assert_eq!(answer.description, None);
            assert_eq!(end.counts(&answer), end.index == 1);
            assert_eq!(end.dropped, 0);
        }
    }
}
